"""Sign-in through the web console in a real browser: click "Sign in with Google", consent on the
emulator's page, land signed in with a token the API takes; a 401 refreshes the session; sign-out
revokes it; and a signed-in person links GitHub and then signs in with it as the same person."""

from __future__ import annotations

import httpx

from tests.e2e.console.conftest import session_of, shoot, sign_in_with_google


def test_sign_in_with_google_from_click_to_a_working_token(page, console, api_base, email):
    page.goto(console)
    shoot(page, "console-sign-in")
    signed = sign_in_with_google(page, console, email, "Ana Lima")

    assert page.locator("#flash").inner_text().startswith("Welcome")
    assert signed["role"] == "student" and signed["userId"].startswith("stu_")
    assert "code=" not in page.url  # the code left the address bar
    me = httpx.get(
        f"{api_base}/directory/students/{signed['userId']}",
        headers={"Authorization": f"Bearer {signed['accessToken']}"},
        timeout=30,
    )
    assert me.status_code == 200, me.text
    assert me.json()["email"] == email
    # What the person sees follows the role: a student's views, not the integrator's.
    nav = page.locator("#nav").inner_text()
    assert "My classes" in nav and "My account" in nav and "Webhooks" not in nav

    # A rejected access token: the page refreshes the session (rotating the refresh token) and goes on.
    page.evaluate(
        """() => { const s = JSON.parse(sessionStorage.getItem('console.session'));
                   s.accessToken = s.accessToken.slice(0, -6) + 'AAAAAA';
                   sessionStorage.setItem('console.session', JSON.stringify(s)); }"""
    )
    page.goto(f"{console}/#/account")
    page.get_by_role("cell", name=email).wait_for()
    refreshed = session_of(page)
    assert refreshed["refreshToken"] != signed["refreshToken"]
    assert refreshed["userId"] == signed["userId"]

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in with Google").wait_for()
    assert page.evaluate("() => sessionStorage.getItem('console.session')") is None
    reuse = httpx.post(f"{api_base}/oauth/token", json={"refreshToken": refreshed["refreshToken"]}, timeout=30)
    assert reuse.status_code == 401, reuse.text  # signed out on the server too


def test_a_signed_in_student_links_github_and_then_signs_in_with_it(page, browser, console, api_base, sandbox, email):
    login = "gh" + email.split("@")[0].replace("-", "")
    sandbox.control(
        "POST",
        "/github/accounts",
        {"login": login, "name": "Ana on GitHub", "emails": [{"email": email, "primary": True, "verified": True}]},
    )
    signed = sign_in_with_google(page, console, email)
    page.get_by_role("link", name="My account").click()
    page.get_by_role("button", name="Link GitHub").click()
    page.wait_for_url("**/github/login/oauth/authorize**")
    page.get_by_label("Account").select_option(login)
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{console}/#/account")
    page.get_by_role("cell", name="GitHub", exact=True).wait_for()
    assert page.locator("#flash").inner_text() == "Linked your GitHub account."
    shoot(page, "console-account")

    token = session_of(page)["accessToken"]
    linked = httpx.get(
        f"{api_base}/oauth/linked-accounts/{signed['userId']}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).json()
    assert sorted(a["provider"] for a in linked["accounts"]) == ["github", "google"]

    # Another browser signs in with GitHub: the same person.
    other = browser.new_context()
    try:
        second = other.new_page()
        second.goto(console)
        second.get_by_role("button", name="Sign in with GitHub").click()
        second.wait_for_url("**/github/login/oauth/authorize**")
        second.get_by_label("Account").select_option(login)
        second.get_by_role("button", name="Allow").click()
        second.get_by_role("button", name="Sign out").wait_for()
        assert session_of(second)["userId"] == signed["userId"]
        assert second.locator("#flash").inner_text().startswith("Signed in as")
    finally:
        other.close()
