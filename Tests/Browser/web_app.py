"""Walks the web app in a real headless Chromium, keyboard first, and reports what a person would have seen.

usage: web_app.py --base URL --user NAME --token T --auditor NAME --auditor-token T --shots DIR

Prints one JSON object with a field per check. Screenshots of every page at 1280 and 390 pixels wide go to DIR.
"""
import argparse, json, os, time
import chromium
from chromium import browser, csp_violations, wait_for
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

parser = argparse.ArgumentParser()
parser.add_argument("--base", required=True)
parser.add_argument("--user", required=True)
parser.add_argument("--token", required=True)
parser.add_argument("--auditor", required=True)
parser.add_argument("--auditor-token", required=True)
parser.add_argument("--shots", required=True)
parser.add_argument("--folder", help="a folder of videos to upload to the new case (as a DVR export)")
args = parser.parse_args()
os.makedirs(args.shots, exist_ok=True)
result = {}


def shoot(driver, name):
    chromium.shoot(driver, name, args.shots, result)


def type_keys(driver, text):
    driver.switch_to.active_element.send_keys(text)


def sign_in_with_keyboard(driver, name, token):
    """Only keys: the name field has the focus; Tab to the token; Enter submits."""
    driver.get(args.base + "/app")
    wait_for(driver, lambda: "/app/signin" in driver.current_url)
    focused = driver.switch_to.active_element.get_attribute("id")
    type_keys(driver, name)
    type_keys(driver, Keys.TAB)
    second = driver.switch_to.active_element.get_attribute("id")
    type_keys(driver, token)
    type_keys(driver, Keys.ENTER)
    return focused, second


driver = browser()
try:
    # Signing in, keyboard only.
    driver.get(args.base + "/app/signin")
    shoot(driver, "signin")
    focused, second = sign_in_with_keyboard(driver, args.user, args.token)
    result["signin_focus"] = [focused, second]
    wait_for(driver, lambda: driver.current_url.rstrip("/").endswith("/app"))
    result["after_signin_url"] = driver.current_url
    result["cases_heading"] = driver.find_element(By.TAG_NAME, "h1").text
    result["who"] = driver.find_element(By.CSS_SELECTOR, ".who").text
    result["create_form_shown"] = len(driver.find_elements(By.CSS_SELECTOR, "form[action='/app/cases']")) == 1
    shoot(driver, "cases")

    # Opening a case through the form, with the keyboard.
    driver.find_element(By.ID, "reference").click()
    type_keys(driver, "WEB/2026/1")
    type_keys(driver, Keys.TAB)
    type_keys(driver, "Shop CCTV <b>not bold</b>")
    type_keys(driver, Keys.ENTER)
    wait_for(driver, lambda: "/app/cases/" in driver.current_url)
    result["case_url"] = driver.current_url
    result["case_heading"] = driver.find_element(By.TAG_NAME, "h1").text
    result["case_title_cell"] = driver.find_element(By.CSS_SELECTOR, "dl.facts dd").text
    result["exhibits_empty"] = driver.find_element(By.CSS_SELECTOR, "table[aria-label='Exhibits'] td.empty").text

    # Adding a member.
    driver.find_element(By.ID, "member").send_keys("akhan" + Keys.ENTER)
    wait_for(driver, lambda: "added=" in driver.current_url)
    result["member_notice"] = driver.find_element(By.CSS_SELECTOR, ".notice").text
    result["investigator_custody_link"] = len(driver.find_elements(By.ID, "custody-link"))
    result["members"] = [item.text for item in driver.find_elements(By.CSS_SELECTOR, "ul.members li")]
    shoot(driver, "case")

    # Uploading a whole folder: every file gets a row, a reference, a SHA-256 and a verdict.
    if args.folder:
        driver.find_element(By.ID, "folder").send_keys(args.folder)
        button = driver.find_element(By.ID, "start-upload")
        result["upload_button"] = button.text
        button.send_keys(Keys.ENTER)
        def finished():
            rows = driver.find_elements(By.CSS_SELECTOR, "#upload-list tbody tr")
            return len(rows) > 0 and all(r.get_attribute("data-state") in ("done", "failed") for r in rows)
        wait_for(driver, finished, seconds=180)
        result["upload_rows"] = [{
            "file": r.find_element(By.CSS_SELECTOR, "[data-cell='file']").text,
            "state": r.get_attribute("data-state"),
            "sha256": r.get_attribute("data-sha256"),
            "verdict": (r.find_elements(By.CSS_SELECTOR, "[data-verdict]") or [None])[0] and r.find_element(By.CSS_SELECTOR, "[data-verdict]").get_attribute("data-verdict"),
            "result": r.find_element(By.CSS_SELECTOR, "[data-cell='result']").text,
        } for r in driver.find_elements(By.CSS_SELECTOR, "#upload-list tbody tr")]
        result["overall_text"] = driver.find_element(By.ID, "overall-text").text
        # The case's list of exhibits shows the new ones without a reload.
        wait_for(driver, lambda: len(driver.find_elements(By.CSS_SELECTOR, "table[aria-label='Exhibits'] tbody td a")) >= 3)
        result["exhibit_rows_live"] = len(driver.find_elements(By.CSS_SELECTOR, "table[aria-label='Exhibits'] tbody td a"))
        shoot(driver, "upload")
        driver.refresh()
        result["exhibit_rows"] = [[c.text for c in r.find_elements(By.TAG_NAME, "td")]
                                  for r in driver.find_elements(By.CSS_SELECTOR, "table[aria-label='Exhibits'] tbody tr")]
        result["upload_csp_violations"] = csp_violations(driver)

        # The AVI's page: the verdict in words, and its working copy playing (the master does not play in a browser).
        case_page = driver.current_url
        driver.find_element(By.XPATH, "//table[@aria-label='Exhibits']//tr[td[contains(., 'truncated_half.avi')]]//a").click()
        wait_for(driver, lambda: "/app/exhibits/" in driver.current_url)
        result["exhibit_url"] = driver.current_url
        deadline = time.time() + 60
        while not driver.find_elements(By.ID, "player") and time.time() < deadline:
            time.sleep(1)
            driver.refresh()
        result["exhibit_verdict"] = driver.find_element(By.ID, "verdict").text
        result["exhibit_facts"] = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "dl.facts dt")]
        result["exhibit_lineage"] = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "ul.lineage li")]
        result["download_link"] = len(driver.find_elements(By.CSS_SELECTOR, "a[download]"))
        players = driver.find_elements(By.ID, "player")
        result["player_src"] = players[0].get_attribute("src") if players else None
        if players:
            driver.execute_script("var v = document.getElementById('player'); v.muted = true; v.play();")
            played = None
            deadline = time.time() + 20
            while time.time() < deadline:
                played = driver.execute_script("var v = document.getElementById('player'); return {width: v.videoWidth, time: v.currentTime, error: v.error ? v.error.code : null};")
                if played["width"] > 0 and played["time"] > 0.2:
                    break
                time.sleep(0.1)
            result["played"] = played
        result["exhibit_csp_violations"] = csp_violations(driver)

        # A share link: made from the page, opened and played in a fresh browser profile, revoked, then refused.
        driver.find_element(By.ID, "recipient").send_keys("CPS lawyer A. Khan")
        driver.find_element(By.CSS_SELECTOR, "form[action$='/shares'] button").click()
        wait_for(driver, lambda: len(driver.find_elements(By.ID, "new-link")) > 0)
        link = driver.find_element(By.ID, "new-link").get_attribute("value") if driver.find_elements(By.ID, "new-link") else None
        result["share_link"] = link
        result["share_rows"] = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "table[aria-label='Share links'] tbody tr")]
        shoot(driver, "exhibit")
        if link:
            other = browser()
            try:
                other.get(link)
                result["share_page_title"] = other.title
                other.execute_script("var v = document.querySelector('video'); if (v) { v.muted = true; v.play(); }")
                shared = None
                deadline = time.time() + 20
                while time.time() < deadline:
                    shared = other.execute_script("var v = document.querySelector('video'); return v ? {width: v.videoWidth, time: v.currentTime} : null;")
                    if shared and shared["width"] > 0 and shared["time"] > 0.2:
                        break
                    time.sleep(0.1)
                result["share_played"] = shared
                driver.find_element(By.CSS_SELECTOR, "form[action$='/revoke'] button").click()
                wait_for(driver, lambda: "shared=" not in driver.current_url)
                result["share_rows_after_revoke"] = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "table[aria-label='Share links'] tbody tr")]
                other.get(link)
                result["share_after_revoke"] = other.find_element(By.TAG_NAME, "body").text
            finally:
                other.quit()
        driver.get(case_page)

    # A member that does not exist is refused in words, on a page of its own.
    driver.find_element(By.ID, "member").send_keys("nobody-here" + Keys.ENTER)
    wait_for(driver, lambda: "added=" not in driver.current_url)
    result["bad_member_heading"] = driver.find_element(By.TAG_NAME, "h1").text
    result["bad_member_message"] = driver.find_element(By.CSS_SELECTOR, "main p").text
    shoot(driver, "error")

    # Search and filter.
    driver.get(args.base + "/app?q=web%2F2026")
    result["search_rows"] = [row.text for row in driver.find_elements(By.CSS_SELECTOR, "table[aria-label='Cases'] tbody tr")]
    result["local_time_title"] = driver.execute_script("var t = document.querySelector('time'); return t ? t.title : null;")
    driver.get(args.base + "/app?q=no-such-case")
    result["search_none"] = driver.find_element(By.CSS_SELECTOR, "table[aria-label='Cases'] td.empty").text
    driver.get(args.base + "/app?status=closed")
    result["closed_rows"] = len(driver.find_elements(By.CSS_SELECTOR, "table[aria-label='Cases'] tbody tr td a"))
    result["csp_violations"] = csp_violations(driver)

    # Signing out ends the session: the page asks to sign in again.
    driver.find_element(By.CSS_SELECTOR, "form[action='/app/signout'] button").click()
    wait_for(driver, lambda: "/app/signin" in driver.current_url)
    result["after_signout_url"] = driver.current_url
    driver.get(args.base + "/app")
    result["after_signout_app_url"] = driver.current_url
finally:
    driver.quit()

# The auditor, in a browser of their own: a wrong token and an unknown name get the same words; no create form.
driver = browser()
try:
    sign_in_with_keyboard(driver, args.auditor, "exh_not-the-token")
    wait_for(driver, lambda: len(driver.find_elements(By.CSS_SELECTOR, ".error")) > 0)
    result["wrong_token_error"] = driver.find_element(By.CSS_SELECTOR, ".error").text
    result["wrong_token_name_kept"] = driver.find_element(By.ID, "name").get_attribute("value")
    sign_in_with_keyboard(driver, "no-such-user", args.auditor_token)
    wait_for(driver, lambda: len(driver.find_elements(By.CSS_SELECTOR, ".error")) > 0)
    result["unknown_user_error"] = driver.find_element(By.CSS_SELECTOR, ".error").text
    sign_in_with_keyboard(driver, args.auditor, args.auditor_token)
    wait_for(driver, lambda: driver.current_url.rstrip("/").endswith("/app"))
    result["auditor_who"] = driver.find_element(By.CSS_SELECTOR, ".who").text
    result["auditor_create_form"] = len(driver.find_elements(By.CSS_SELECTOR, "form[action='/app/cases']"))
    links = driver.find_elements(By.CSS_SELECTOR, "table[aria-label='Cases'] tbody a")
    result["auditor_cases"] = [link.text for link in links]
    web_case = [link for link in links if link.text == "WEB/2026/1"]
    if web_case:
        web_case[0].click()
        wait_for(driver, lambda: "/app/cases/" in driver.current_url)
        result["auditor_member_form"] = len(driver.find_elements(By.ID, "member"))
        result["auditor_upload_section"] = len(driver.find_elements(By.ID, "upload"))
        exhibit_links = driver.find_elements(By.CSS_SELECTOR, "table[aria-label='Exhibits'] tbody a")
        if exhibit_links:
            exhibit_links[0].click()
            wait_for(driver, lambda: "/app/exhibits/" in driver.current_url)
            result["auditor_player"] = len(driver.find_elements(By.TAG_NAME, "video"))
            result["auditor_download"] = len(driver.find_elements(By.CSS_SELECTOR, "a[download]"))
            result["auditor_exhibit_heading"] = driver.find_element(By.TAG_NAME, "h1").text
        # The case's custody record: the timeline, the exports (fetched as the links would be), a check of the ledger.
        driver.back()
        wait_for(driver, lambda: len(driver.find_elements(By.ID, "custody-link")) > 0)
        driver.find_element(By.ID, "custody-link").click()
        wait_for(driver, lambda: "/custody" in driver.current_url)
        result["custody_actions"] = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "table[aria-label='Custody events'] tbody td code")]
        result["custody_exhibit_cells"] = sorted(set(e.text for e in driver.find_elements(By.CSS_SELECTOR, "table[aria-label='Custody events'] tbody tr td:nth-child(5) a")))
        csv = driver.execute_async_script(
            "var done = arguments[arguments.length - 1];"
            "fetch(document.getElementById('export-csv').href, {credentials: 'same-origin'})"
            ".then(function (r) { return r.text().then(function (t) { done({status: r.status, head: t.split('\\n')[0]}); }); })"
            ".catch(function (e) { done({status: 0, head: String(e)}); });")
        result["custody_csv"] = csv
        driver.find_element(By.ID, "verify").click()
        wait_for(driver, lambda: len(driver.find_elements(By.ID, "verify-result")) > 0)
        result["custody_verify"] = driver.find_element(By.ID, "verify-result").text
        result["auditor_csp_on_custody"] = csp_violations(driver)
        shoot(driver, "custody")
    result["auditor_csp_violations"] = csp_violations(driver)
finally:
    driver.quit()

print(json.dumps(result))
