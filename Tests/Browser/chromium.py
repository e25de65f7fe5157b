"""What the browser walks share: a headless Chromium with its console log, screenshots of a page at both
widths (noting words of the code that leak into it), the page's Content-Security-Policy violations, and waiting
for a condition."""
import os, time
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException


def browser():
    options = Options()
    for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    return driver


def shoot(driver, name, shots, result):
    """Both widths; the page is re-laid out at each. Also notes words that leak from the code into the page."""
    text = driver.execute_script("return document.body.innerText")
    for word in ("nil", "Optional(", "undefined", "{{"):
        if (" " + word + " ") in (" " + text.replace("\n", " ") + " ") or (word != "nil" and word in text):
            result.setdefault("leaked_words", []).append(f"{name}: {word}")
    for width in (1280, 390):
        driver.set_window_size(width, 900)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, max(900, min(height, 4000)))
        driver.save_screenshot(os.path.join(shots, f"{name}-{width}.png"))
    driver.set_window_size(1280, 900)


def csp_violations(driver):
    return [entry["message"] for entry in driver.get_log("browser") if "Content Security Policy" in entry["message"]]


def wait_for(driver, condition, seconds=10):
    """Polls `condition` every 50 ms for up to `seconds`; returns whether it came to hold."""
    deadline = time.time() + seconds
    met = condition()
    while not met and time.time() < deadline:
        time.sleep(0.05)
        met = condition()
    return met


def replaced(element):
    """A WebDriverWait condition: the page holding `element` has been replaced by the next one. Asked about a node
    of a page being unloaded, Chromium may answer "Node with given id does not belong to the document" instead of
    a stale reference (Selenium's staleness_of then fails): both mean the same here."""
    def check(_driver):
        try:
            element.is_enabled()
            return False
        except StaleElementReferenceException:
            return True
        except WebDriverException as error:
            if "does not belong to the document" in str(error):
                return True
            raise
    return check
