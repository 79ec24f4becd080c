"""Provider emulators: each module here that defines `EMULATOR` (an `Emulator` subclass) is served
by the sandbox under `/<EMULATOR.prefix>/`. See offline/sandbox/README.md.
"""
