import pathlib
import sys

# Import the package from this checkout, not from an installed copy.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

REPO = pathlib.Path(__file__).resolve().parents[3]
SHARED = REPO.parent / "shared"



# Every test is bounded as a whole, even where it blocks in a call that has no timeout
# of its own (a child's readline, a join): past ZC_TEST_ITEM_TIMEOUT seconds (default
# 300) every thread's stack is printed and the run ends with status 1, rather than CI
# hanging. Covers a test's setup (module fixtures that start clusters) and teardown too.
import faulthandler  # noqa: E402
import os  # noqa: E402
import threading  # noqa: E402

import pytest  # noqa: E402

ITEM_TIMEOUT = float(os.environ.get("ZC_TEST_ITEM_TIMEOUT", "300"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    def expired():
        capman = item.config.pluginmanager.getplugin("capturemanager")
        if capman is not None:
            capman.suspend_global_capture(in_=True)  # so that the report reaches the terminal
        sys.stderr.write("\n%s: still running after %.0f s (ZC_TEST_ITEM_TIMEOUT)\n" % (item.nodeid, ITEM_TIMEOUT))
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        sys.stderr.flush()
        os._exit(1)

    timer = threading.Timer(ITEM_TIMEOUT, expired)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
