"""Walks the web app's deciding pages in a real headless Chromium: an admin adds, disables, enables and re-tokens
a user; a supervisor records a case's outcome and places and releases legal holds on the case and on an
exhibit; an investigator and an auditor are offered only what their roles allow; an exhibit's own custody record.

usage: web_manage.py --base URL --admin NAME --admin-token T --supervisor NAME --supervisor-token T
                     --investigator NAME --investigator-token T --auditor NAME --auditor-token T
                     --case-id ID --exhibit-id ID --shots DIR

Prints one JSON object with a field per check. Screenshots at 1280 and 390 pixels wide go to DIR.
"""
import argparse, json, os
import chromium
from chromium import browser, csp_violations, wait_for
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

parser = argparse.ArgumentParser()
for name in ["base", "admin", "admin-token", "supervisor", "supervisor-token", "investigator", "investigator-token",
             "auditor", "auditor-token", "case-id", "exhibit-id", "shots"]:
    parser.add_argument("--" + name, required=True)
args = parser.parse_args()
os.makedirs(args.shots, exist_ok=True)
result = {}


def shoot(driver, name):
    chromium.shoot(driver, name, args.shots, result)


def sign_in(driver, name, token):
    driver.get(args.base + "/app/signin")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "token").send_keys(token + Keys.ENTER)
    wait_for(driver, lambda: "/app/signin" not in driver.current_url or driver.find_elements(By.CSS_SELECTOR, ".error"))


def text_of(driver, selector):
    found = driver.find_elements(By.CSS_SELECTOR, selector)
    return found[0].text if found else None


def count(driver, selector):
    return len(driver.find_elements(By.CSS_SELECTOR, selector))


def submit(driver, form_selector):
    """Submits a form with its button, and waits for the next page to be loaded (the old one's root gone stale)."""
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, form_selector + " button[type='submit']").click()
    WebDriverWait(driver, 10).until(chromium.replaced(old))
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return document.readyState") == "complete")


case_url = args.base + "/app/cases/" + args.case_id
exhibit_url = args.base + "/app/exhibits/" + args.exhibit_id

# The admin: the Users page from the header; a user added with their token shown once.
admin = browser()
newcomer = browser()
try:
    sign_in(admin, args.admin, args.admin_token)
    result["admin_users_link"] = count(admin, "#users-link")
    admin.find_element(By.ID, "users-link").click()
    wait_for(admin, lambda: "/app/users" in admin.current_url)
    result["users_listed"] = [r.get_attribute("data-user") for r in admin.find_elements(By.CSS_SELECTOR, "table[aria-label='Users'] tbody tr")]
    result["roles_listed"] = {r.get_attribute("data-role"): r.text for r in admin.find_elements(By.CSS_SELECTOR, "table[aria-label='Roles'] tbody tr")}
    admin.find_element(By.ID, "new-name").send_keys("pnew")
    Select(admin.find_element(By.ID, "new-role")).select_by_value("investigator")
    admin.find_element(By.ID, "new-full-name").send_keys("Priya New")
    submit(admin, "#add-user")
    result["added_notice"] = text_of(admin, ".notice")
    token = admin.find_element(By.ID, "new-token").get_attribute("value") if count(admin, "#new-token") else None
    result["new_token_shown"] = bool(token and token.startswith("exh_"))
    result["new_token_in_url"] = bool(token and token in admin.current_url)
    shoot(admin, "users")
    admin.get(args.base + "/app/users")
    result["token_shown_again"] = count(admin, "#new-token")

    # The new user signs in with it; once disabled, their session ends at their next page.
    if token:
        sign_in(newcomer, "pnew", token)
        result["newcomer_who"] = text_of(newcomer, ".who")
        admin.find_element(By.ID, "why-pnew").send_keys("left the unit")
        submit(admin, "tr[data-user='pnew'] form[action$='/disable']")
        result["disabled_notice"] = text_of(admin, ".notice")
        result["disabled_row"] = text_of(admin, "tr[data-user='pnew']")
        newcomer.get(args.base + "/app")
        result["newcomer_after_disable_url"] = newcomer.current_url
        submit(admin, "tr[data-user='pnew'] form[action$='/enable']")
        result["enabled_row"] = text_of(admin, "tr[data-user='pnew']")
        submit(admin, "tr[data-user='pnew'] form[action$='/token']")
        second = admin.find_element(By.ID, "new-token").get_attribute("value") if count(admin, "#new-token") else None
        result["second_token_differs"] = bool(second and second != token)
        sign_in(newcomer, "pnew", token)
        result["old_token_error"] = text_of(newcomer, ".error")
        if second:
            sign_in(newcomer, "pnew", second)
            result["second_token_who"] = text_of(newcomer, ".who")
    result["admin_self_actions"] = count(admin, "tr[data-user='%s'] form" % args.admin)
    result["admin_csp"] = csp_violations(admin)
finally:
    admin.quit()
    newcomer.quit()

# The supervisor records an outcome and places a hold; the investigator sees the hold and cannot release it.
sup = browser()
inv = browser()
try:
    sign_in(sup, args.supervisor, args.supervisor_token)
    result["supervisor_users_link"] = count(sup, "#users-link")
    sup.get(case_url)
    sup.find_element(By.CSS_SELECTOR, "#status-section summary").click()
    Select(sup.find_element(By.ID, "status")).select_by_value("convicted")
    sup.find_element(By.ID, "status-at").send_keys("2026-11-30T10:00:00Z")
    sup.find_element(By.ID, "release-date").send_keys("2027-05-01T00:00:00Z")
    submit(sup, "#status-form")
    result["status_notice"] = text_of(sup, ".notice")
    result["status_badge"] = text_of(sup, "dl.facts .badge")
    result["retention_after_status"] = sup.find_element(By.XPATH, "//dt[.='Retention']/following-sibling::dd[1]").text
    # A release date without a conviction is refused in words, naming what is wrong.
    sup.get(case_url)
    sup.find_element(By.CSS_SELECTOR, "#status-section summary").click()
    Select(sup.find_element(By.ID, "status")).select_by_value("charged")
    sup.find_element(By.ID, "release-date").send_keys("2027-05-01T00:00:00Z")
    submit(sup, "#status-form")
    result["bad_status_heading"] = text_of(sup, "h1")
    result["bad_status_message"] = text_of(sup, "main p")
    sup.get(case_url)
    sup.find_element(By.ID, "hold-reason").send_keys("Appeal lodged: keep everything")
    submit(sup, "#hold-form")
    result["hold_notice"] = text_of(sup, ".notice")
    result["case_hold"] = sup.find_element(By.XPATH, "//dt[.='Legal hold']/following-sibling::dd[1]").text
    result["hold_form_after_hold"] = count(sup, "#hold-form")
    shoot(sup, "case-manage")

    sign_in(inv, args.investigator, args.investigator_token)
    inv.get(case_url)
    result["investigator_status_form"] = count(inv, "#status-form")
    result["investigator_release_form"] = count(inv, "#release-form")
    result["investigator_sees_hold"] = inv.find_element(By.XPATH, "//dt[.='Legal hold']/following-sibling::dd[1]").text
    inv.get(exhibit_url)
    result["investigator_exhibit_custody_link"] = count(inv, "#exhibit-custody-link")
    result["investigator_exhibit_hold_via_case"] = text_of(inv, "#exhibit-hold")

    sup.find_element(By.ID, "release-reason").send_keys("Appeal withdrawn")
    submit(sup, "#release-form")
    result["release_notice"] = text_of(sup, ".notice")
    result["case_hold_after_release"] = sup.find_element(By.XPATH, "//dt[.='Legal hold']/following-sibling::dd[1]").text

    # A hold on one exhibit, from its page, and released there; then the exhibit's own custody record.
    sup.get(exhibit_url)
    sup.find_element(By.ID, "exhibit-hold-reason").send_keys("Defence asked for the original")
    submit(sup, "#exhibit-hold-form")
    result["exhibit_hold"] = text_of(sup, "#exhibit-hold")
    inv.get(exhibit_url)
    result["investigator_exhibit_release_form"] = count(inv, "#exhibit-release-form")
    sup.find_element(By.ID, "exhibit-release-reason").send_keys("Original examined")
    submit(sup, "#exhibit-release-form")
    result["exhibit_hold_after_release"] = text_of(sup, "#exhibit-hold")
    sup.find_element(By.ID, "exhibit-custody-link").click()
    wait_for(sup, lambda: "/custody" in sup.current_url)
    result["exhibit_custody_heading"] = text_of(sup, "h1")
    result["exhibit_custody_actions"] = [e.text for e in sup.find_elements(By.CSS_SELECTOR, "table[aria-label='Custody events'] tbody td code")]
    result["exhibit_custody_exhibits"] = sorted(set(e.text for e in sup.find_elements(By.CSS_SELECTOR, "table[aria-label='Custody events'] tbody tr td:nth-child(5)")))
    shoot(sup, "exhibit-custody")
    Select(sup.find_element(By.ID, "kind")).select_by_value("hold")
    submit(sup, "form.filters")
    result["exhibit_custody_hold_only"] = [e.text for e in sup.find_elements(By.CSS_SELECTOR, "table[aria-label='Custody events'] tbody td code")]
    result["exhibit_custody_filter_url"] = sup.current_url
    result["supervisor_csp"] = csp_violations(sup) + csp_violations(inv)
finally:
    sup.quit()
    inv.quit()

# The auditor: no control that decides anything, and no Users page.
aud = browser()
try:
    sign_in(aud, args.auditor, args.auditor_token)
    aud.get(case_url)
    result["auditor_controls"] = count(aud, "#status-form") + count(aud, "#hold-form") + count(aud, "#release-form")
    aud.get(args.base + "/app/users")
    result["auditor_users_heading"] = text_of(aud, "h1")
finally:
    aud.quit()

print(json.dumps(result))
