"""Uploads one large file from the case page in headless Chromium through a server that is killed and restarted
(by the test, which watches STATE) and a tab that is reloaded once, and reports how it ended.

usage: resume_upload.py --base URL --user NAME --token T --case-id ID --file PATH --state FILE --shots DIR

Writes the upload's progress (a fraction) to STATE as it goes; waits for STATE to say "restarted" before it
reloads the tab at 60 % or more, chooses the file again (the browser remembers the upload), and lets it finish.
Prints one JSON object.
"""
import argparse, json, os, time
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

parser = argparse.ArgumentParser()
for name in ["--base", "--user", "--token", "--case-id", "--file", "--state", "--shots"]:
    parser.add_argument(name, required=True)
args = parser.parse_args()
result = {"reloaded": False}

options = Options()
for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"]:
    options.add_argument(flag)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
driver.set_page_load_timeout(60)


def progress():
    bars = driver.find_elements(By.CSS_SELECTOR, "#upload-list tbody tr progress")
    if not bars:
        return 0.0
    value, maximum = float(bars[0].get_attribute("value") or 0), float(bars[0].get_attribute("max") or 1)
    return value / maximum


def state():
    rows = driver.find_elements(By.CSS_SELECTOR, "#upload-list tbody tr")
    return rows[0].get_attribute("data-state") if rows else None


def choose_and_send():
    driver.find_element(By.ID, "files").send_keys(args.file)
    driver.find_element(By.ID, "start-upload").send_keys(Keys.ENTER)


try:
    driver.get(args.base + "/app/signin")
    driver.find_element(By.ID, "name").send_keys(args.user)
    driver.find_element(By.ID, "token").send_keys(args.token + Keys.ENTER)
    time.sleep(0.5)
    driver.get(args.base + "/app/cases/" + args.case_id)
    choose_and_send()
    deadline = time.time() + 600
    seen_restart = False
    while time.time() < deadline:
        fraction = progress()
        with open(args.state + ".tmp", "w") as out:
            out.write(f"{fraction:.4f}")
        os.replace(args.state + ".tmp", args.state)
        if os.path.exists(args.state + ".restarted"):
            seen_restart = True
        if seen_restart and not result["reloaded"] and fraction >= 0.6:
            # The tab goes away mid-upload; the person comes back and picks the same file.
            result["reloaded_at"] = round(fraction, 3)
            driver.refresh()
            result["reloaded"] = True
            choose_and_send()
            for _ in range(200):
                rows = driver.find_elements(By.CSS_SELECTOR, "#upload-list tbody tr[data-started-at]")
                if rows:
                    result["resumed_from"] = int(rows[0].get_attribute("data-started-at"))
                    break
                time.sleep(0.05)
        if state() in ("done", "failed"):
            break
        time.sleep(0.05)
    rows = driver.find_elements(By.CSS_SELECTOR, "#upload-list tbody tr")
    if rows:
        result["state"] = rows[0].get_attribute("data-state")
        result["sha256"] = rows[0].get_attribute("data-sha256")
        result["result"] = rows[0].find_element(By.CSS_SELECTOR, "[data-cell='result']").text
    result["seen_restart"] = seen_restart
    driver.save_screenshot(os.path.join(args.shots, "resumed-upload-1280.png"))
finally:
    driver.quit()
print(json.dumps(result))
