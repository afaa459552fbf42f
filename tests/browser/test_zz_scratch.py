import pytest
from tests.browser.helpers import sign_in
from tests.factories import PASSWORD, make_patient
pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 1, "is_mobile": True, "has_touch": True}

def test_look(open_page, live_server):
    p = make_patient(name="Pat Test")
    page = open_page(**PHONE)
    sign_in(page, live_server.url, p.email, PASSWORD)
    page.wait_for_url("**/me/")
    page.goto(live_server.url + "/me/")
    page.screenshot(path="/tmp/bm/home.png", full_page=True)
    for n in range(1, 8):
        page.goto(f"{live_server.url}/me/intake/{n}")
        page.screenshot(path=f"/tmp/bm/step{n}.png", full_page=True)
