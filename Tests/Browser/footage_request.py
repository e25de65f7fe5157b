"""A footage request from both ends, in headless Chromium: an investigator creates it on the case page; the owner,
in a fresh browser profile with no account, opens the link, checks the recorder's clock, uploads a DVR export
folder, reads what was found and what is missing, adds the missing file, finishes and keeps the receipt; the
investigator sees the request answered.

usage: footage_request.py --base URL --user NAME --token T --case-id ID --folder DIR --missing FILE --shots DIR
       --from TIME --to TIME

Prints one JSON object.
"""
import argparse, json, os, time
import chromium
from chromium import browser, csp_violations, wait_for
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

parser = argparse.ArgumentParser()
for name in ["--base", "--user", "--token", "--case-id", "--folder", "--missing", "--shots", "--from", "--to"]:
    parser.add_argument(name, required=True)
args = parser.parse_args()
os.makedirs(args.shots, exist_ok=True)
result = {}


def shoot(driver, name):
    chromium.shoot(driver, name, args.shots, result)


def rows(driver, selector):
    return [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in driver.find_elements(By.CSS_SELECTOR, selector)]


def upload_rows(driver):
    out = []
    for row in driver.find_elements(By.CSS_SELECTOR, "#upload-list tbody tr"):
        badge = row.find_elements(By.CSS_SELECTOR, "[data-verdict]")
        words = row.find_elements(By.CSS_SELECTOR, ".words")
        out.append({"file": row.find_element(By.CSS_SELECTOR, "[data-cell='file']").text, "state": row.get_attribute("data-state"),
                    "sha256": row.get_attribute("data-sha256"), "verdict": badge[0].get_attribute("data-verdict") if badge else None,
                    "words": words[0].text if words else row.find_element(By.CSS_SELECTOR, "[data-cell='result']").text})
    return out


def settled(driver, count):
    found = upload_rows(driver)
    return len(found) == count and all(r["state"] in ("done", "failed") for r in found)


investigator = browser()
owner = None
try:
    # The investigator asks for the footage from the case page.
    investigator.get(args.base + "/app/signin")
    investigator.find_element(By.ID, "name").send_keys(args.user)
    investigator.find_element(By.ID, "token").send_keys(args.token + Keys.ENTER)
    wait_for(investigator, lambda: investigator.current_url.rstrip("/").endswith("/app"))
    investigator.get(args.base + "/app/cases/" + args.case_id)
    investigator.find_element(By.CSS_SELECTOR, "#request-section summary").click()
    for field, value in [("req-from", getattr(args, "from")), ("req-to", args.to), ("req-location", "Corner Shop, 12 High St"),
                         ("req-camera", "till camera"), ("req-owner", "Corner Shop Ltd"), ("req-contact", "01632 960123"),
                         ("req-prefix", "CS")]:
        investigator.find_element(By.ID, field).send_keys(value)
    investigator.find_element(By.ID, "create-request").click()
    wait_for(investigator, lambda: len(investigator.find_elements(By.ID, "new-link")) == 1)
    link = investigator.find_element(By.ID, "new-link").get_attribute("value")
    result["link"] = link
    result["request_rows_before"] = rows(investigator, "table[aria-label='Footage requests'] tbody tr[data-request]")
    shoot(investigator, "case-requests")
    result["investigator_csp_violations"] = csp_violations(investigator)

    # The owner: a fresh profile, no cookie, no account.
    owner = browser()
    owner.get(link)
    result["owner_heading"] = owner.find_element(By.TAG_NAME, "h1").text
    result["owner_brand"] = owner.find_element(By.CSS_SELECTOR, ".brand").text
    result["owner_window"] = owner.find_element(By.ID, "window").text
    result["owner_case"] = owner.find_element(By.ID, "case-reference").text
    result["owner_cookies"] = owner.get_cookies()
    shoot(owner, "request-owner")

    # The clock check: the recorder shows true time + 2 minutes. Typed just after a second starts on the page's
    # own clock, as a person reading the screen would, so the offset is whole.
    # The page takes the moment of the last keystroke as when the screen was read (its hidden seen_at); on a busy
    # machine typing can lag the reading by half a second, so a reading whose keystroke came too late is typed
    # again, as a person would correct it, until what was typed is the recorder's time at that moment.
    wait_for(owner, lambda: owner.find_element(By.ID, "true-time").text.count(":") == 2)
    zone_offset = int(owner.find_element(By.ID, "true-time").get_attribute("data-offset"))
    field = owner.find_element(By.ID, "recorder-time")
    for attempt in range(10):
        # The page's clock just after its next second starts (waited for in the page, not here).
        millis = owner.execute_async_script(
            "var done = arguments[arguments.length - 1], c = document.getElementById('true-time');"
            "var now = function () { return Number(c.getAttribute('data-now')) + (Date.now() - performance.timing.responseEnd); };"
            "setTimeout(function () { done(now()); }, 1000 - now() % 1000 + 20);")
        recorder = ((millis + zone_offset) // 1000 + 120) * 1000
        field.clear()
        field.send_keys(time.strftime("%H:%M:%S", time.gmtime(recorder // 1000)))
        seen = int(owner.find_element(By.ID, "seen-at").get_attribute("value") or "0")
        if abs(recorder - (seen + zone_offset) - 120_000) < 400:
            break
    result["clock_attempts"] = attempt + 1
    owner.find_element(By.ID, "record-clock").click()
    wait_for(owner, lambda: len(owner.find_elements(By.ID, "clock-result")) == 1)
    result["clock_result"] = owner.find_element(By.ID, "clock-result").text

    # The DVR export folder: each file's verdict in words, and what of the window is still missing.
    owner.find_element(By.ID, "folder").send_keys(args.folder)
    count = len(os.listdir(args.folder))
    button = owner.find_element(By.ID, "start-upload")
    result["send_button"] = button.text
    button.click()
    wait_for(owner, lambda: settled(owner, count), 120)
    result["folder_rows"] = upload_rows(owner)
    result["coverage_after_folder"] = owner.find_element(By.ID, "coverage").text
    shoot(owner, "request-sent")

    # The missing stretch, exported and added.
    owner.find_element(By.ID, "files").send_keys(args.missing)
    owner.find_element(By.ID, "start-upload").click()
    wait_for(owner, lambda: settled(owner, count + 1), 120)
    result["all_rows"] = upload_rows(owner)
    result["coverage_after_missing"] = owner.find_element(By.ID, "coverage").text
    owner.refresh()
    result["received_rows"] = rows(owner, "#received-list tbody tr")

    # Finishing: the receipt, to print and to keep.
    owner.find_element(By.ID, "finish").click()
    wait_for(owner, lambda: "/receipts/" in owner.current_url)
    result["receipt_url"] = owner.current_url
    result["receipt_rows"] = rows(owner, "#receipt-files tbody tr")
    result["receipt_key"] = owner.find_element(By.ID, "receipt-key").text
    href = owner.find_element(By.ID, "receipt-json").get_attribute("href")
    result["receipt_json"] = owner.execute_async_script(
        "var done = arguments[arguments.length - 1]; fetch(arguments[0]).then(function (r) { return r.text(); }).then(done, function (e) { done('error ' + e); });",
        href)
    shoot(owner, "request-receipt")
    result["owner_csp_violations"] = csp_violations(owner)

    # The link, answered: it says so and still offers the receipt.
    owner.get(link)
    result["answered_heading"] = owner.find_element(By.TAG_NAME, "h1").text
    result["answered_receipts"] = [a.get_attribute("href") for a in owner.find_elements(By.CSS_SELECTOR, "#receipt-links a")]
    shoot(owner, "request-answered")

    # The investigator's view now.
    investigator.get(args.base + "/app/cases/" + args.case_id)
    result["request_rows_after"] = rows(investigator, "table[aria-label='Footage requests'] tbody tr[data-request]")
    result["request_state_after"] = investigator.find_element(By.CSS_SELECTOR, "tr[data-request]").get_attribute("data-state")
    result["exhibit_rows"] = rows(investigator, "table[aria-label='Exhibits'] tbody tr")
    result["investigator_csp_after"] = csp_violations(investigator)
finally:
    investigator.quit()
    if owner:
        owner.quit()
print(json.dumps(result))
