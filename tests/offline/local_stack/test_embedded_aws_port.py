"""Two stacks can pick the same free port for their embedded AWS (the port is probed, then bound by
a child process). The second must never take the first one's AWS for its own: it would provision
its secrets into it and send the first stack's functions to its own provider sandbox."""

from __future__ import annotations

import pytest

from offline.aws import MotoServer
from offline.http import free_port


def test_an_embedded_aws_on_a_port_another_stack_holds_is_not_taken_for_ours(tmp_path):
    port = free_port()
    first = MotoServer(port, tmp_path / "first.log")
    first.start()
    try:
        second = MotoServer(port, tmp_path / "second.log")
        with pytest.raises(RuntimeError, match="exited at start"):
            second.start()
        assert not second.serving and first.serving
    finally:
        first.stop()
