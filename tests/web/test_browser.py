"""The reveal pages in a real browser: Debian's headless Chromium, at phone width, over HTTP
from the real `serve_web` (uvicorn).

Needs /usr/bin/chromium and /usr/bin/chromedriver (`apt-get install chromium
chromium-driver`); without them the tests skip, or fail when VHBOT_BROWSER_TEST=required
(CI). Selenium is given the driver's path, so Selenium Manager never downloads a thing.
Screenshots go to $VHBOT_ARTEFACTS, else test-artifacts/ in the project.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.wait import WebDriverWait

from bot.core import Core
from bot.domain.identity import Identity
from bot.domain.reveal import LinkState
from bot.privacy.pii_guard import PiiGuard
from bot.web import serve_web
from tests.conftest import People, free_port
from tests.services.test_reveal import PIN, World, issue, setup_code, state, with_pin, world
from tests.web.conftest import SAVED

__all__ = ["world"]  # the service tests' fixture, used here too
pytestmark = pytest.mark.slow  # starts a browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PHONE = {"width": 390, "height": 844, "pixelRatio": 2}  # an ordinary phone, CSS pixels
ARTEFACTS = Path(
    os.environ.get("VHBOT_ARTEFACTS") or Path(__file__).resolve().parents[2] / "test-artifacts"
)
REFUSED_NL = "Deze link kan niet worden gebruikt."
NAME_NL = "Naam"
WAIT_SECONDS = 10  # an upper bound for a page to arrive, never a pause


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """One headless Chromium for the module, emulating a phone (viewport meta, touch)."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        reason = f"no {' or '.join(missing)}: apt-get install chromium chromium-driver"
        if os.environ.get("VHBOT_BROWSER_TEST") == "required":
            pytest.fail(reason)
        pytest.skip(reason)
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--no-default-browser-check",
        "--lang=nl",
    ):
        options.add_argument(argument)
    if os.geteuid() == 0:  # containers: Chromium's sandbox will not start as root
        options.add_argument("--no-sandbox")
    options.add_experimental_option("mobileEmulation", {"deviceMetrics": PHONE})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def site(core: Core) -> Iterator[str]:
    """`serve_web` on 127.0.0.1 and a free port, in a thread with its own event loop
    (Selenium's calls block); its base URL."""
    port = free_port()
    settings = core.settings.model_copy(update={"web_host": "127.0.0.1", "web_port": port})
    served = dataclasses.replace(core, settings=settings)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready = threading.Event()
    failed: list[BaseException] = []

    def serve() -> None:
        try:
            loop.run_until_complete(serve_web(served, stop, ready=ready.set))
        except BaseException as error:
            failed.append(error)
        finally:
            ready.set()
            loop.run_until_complete(loop.shutdown_default_executor())  # the database threads
            loop.close()

    thread = threading.Thread(target=serve, name="serve_web", daemon=True)
    thread.start()
    assert ready.wait(WAIT_SECONDS), "serve_web did not start"
    if failed:
        raise failed[0]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(WAIT_SECONDS)
    assert not thread.is_alive(), "serve_web did not stop"
    assert not failed, failed


@pytest.fixture
def page(browser: WebDriver) -> Iterator[WebDriver]:
    """The browser, left on a blank page after the test."""
    yield browser
    browser.get("about:blank")


def wait(driver: WebDriver) -> WebDriverWait[WebDriver]:
    return WebDriverWait(driver, WAIT_SECONDS, poll_frequency=0.05)


def open_link(driver: WebDriver, url: str) -> None:
    driver.get(url)  # returns once the page has loaded
    wait(driver).until(ec.presence_of_element_located((By.TAG_NAME, "h1")))


def type_into(driver: WebDriver, field: str, value: str) -> None:
    element = wait(driver).until(ec.element_to_be_clickable((By.ID, field)))
    element.clear()
    element.send_keys(value)


def submit(driver: WebDriver) -> None:
    """Press the form's button and wait for the next page to have loaded."""
    before = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()

    def left(_: WebDriver) -> bool:
        # Asked while the page is being replaced, chromedriver may answer with an
        # "unhandled inspector error" instead of "stale": that is not gone yet, ask again.
        try:
            before.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException:
            return False
        return False

    wait(driver).until(left)
    wait(driver).until(lambda d: d.execute_script("return document.readyState") == "complete")
    wait(driver).until(ec.presence_of_element_located((By.TAG_NAME, "h1")))


def shown_name(driver: WebDriver) -> str | None:
    """The text beside "Naam", if the page has one."""
    found = driver.find_elements(
        By.XPATH, f"//dt[normalize-space()='{NAME_NL}']/following-sibling::dd[1]"
    )
    return found[0].text if found else None


def full_name(identity: Identity) -> str:
    return f"{identity.given_names} {identity.surname}"


def heading(driver: WebDriver) -> str:
    return driver.find_element(By.TAG_NAME, "h1").text


def assert_fits_the_phone(driver: WebDriver) -> None:
    """The page is laid out at the phone's width and nothing needs scrolling sideways.

    A phone browser zooms out to show a page that is too wide (and lays out at 980px
    without the viewport meta), so a page too wide shows as a wider window too.
    """
    screen, inner, scroll = driver.execute_script(
        "return [screen.width, window.innerWidth, document.documentElement.scrollWidth]"
    )
    phone = PHONE["width"]
    assert screen == phone, "the browser does not emulate the phone"
    assert inner == phone and scroll <= phone, (
        f"the page is {max(inner, scroll)}px on a {phone}px phone"
    )


def screenshot(driver: WebDriver, request: pytest.FixtureRequest, name: str) -> Path:
    """The whole page (not only what fits the screen) as ARTEFACTS/name.png."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    request.config.stash.setdefault(SAVED, []).append(path)
    return path


def no_identity(driver: WebDriver, people: People) -> bool:
    return not PiiGuard(people.made).scan(driver.page_source)


def test_a_member_with_a_pin_sees_the_person_once_on_a_phone(
    page: WebDriver,
    site: str,
    core: Core,
    world: World,
    people: People,
    request: pytest.FixtureRequest,
) -> None:
    with_pin(core, world.partner)
    token = issue(core, world.partner, world.announcements[0])
    link = f"{site}/r/{token}"

    open_link(page, link)
    assert page.find_elements(By.ID, "pin") and not page.find_elements(By.ID, "setup_code")
    assert no_identity(page, people)
    assert_fits_the_phone(page)
    screenshot(page, request, "reveal-pin-form")

    type_into(page, "pin", PIN)
    submit(page)
    assert shown_name(page) == full_name(world.identities[0])
    assert world.identities[1].surname not in page.page_source
    assert_fits_the_phone(page)
    screenshot(page, request, "reveal-person")
    assert state(core, token) is LinkState.USED

    open_link(page, link)
    assert heading(page) == REFUSED_NL
    assert shown_name(page) is None and not page.find_elements(By.TAG_NAME, "form")
    assert no_identity(page, people)
    assert_fits_the_phone(page)
    screenshot(page, request, "reveal-refused")


def test_a_member_without_a_pin_sets_one_and_sees_the_person(
    page: WebDriver,
    site: str,
    core: Core,
    world: World,
    people: People,
    request: pytest.FixtureRequest,
) -> None:
    token = issue(core, world.partner, world.announcements[1])
    open_link(page, f"{site}/r/{token}")
    assert no_identity(page, people)
    assert_fits_the_phone(page)
    screenshot(page, request, "reveal-setup-form")

    type_into(page, "setup_code", setup_code(core, world.partner))
    type_into(page, "pin", PIN)
    type_into(page, "pin_again", PIN)
    submit(page)
    assert shown_name(page) == full_name(world.identities[1])
    assert world.identities[0].surname not in page.page_source
    assert_fits_the_phone(page)
