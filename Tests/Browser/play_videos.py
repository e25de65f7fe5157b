"""Plays videos in a real headless Chromium and reports what the <video> element saw.

usage: play_videos.py --base URL [--token T] PATH...   (prints one JSON object per path)

For each path: readyState, videoWidth, videoHeight, duration, error code, and whether seeking to the middle
played (currentTime advanced). Chromium silently plays the audio alone when it cannot decode the video, so
readyState is not enough: videoWidth > 0 is the test.
"""
import argparse, json, time
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

parser = argparse.ArgumentParser()
parser.add_argument("--base", required=True)
parser.add_argument("--token")
parser.add_argument("--screenshot")
parser.add_argument("paths", nargs="+")
args = parser.parse_args()

options = Options()
for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required", "--window-size=1000,2300"]:
    options.add_argument(flag)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
driver.set_page_load_timeout(30)
try:
    if args.token:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Authorization": "Bearer " + args.token}})
    for path in args.paths:
        if path.startswith("/s/"):
            # A share page: it has its own <video>.
            driver.get(args.base + path)
            script_prefix = "const v = document.querySelector('video');"
        else:
            driver.get(args.base + "/healthz")
            driver.execute_script(
                "document.body.innerHTML = '';"
                "const v = document.createElement('video'); v.id = 'v'; v.muted = true; v.autoplay = true;"
                "v.src = arguments[0]; document.body.appendChild(v);", args.base + path)
            script_prefix = "const v = document.getElementById('v');"
        state = None
        deadline = time.time() + 20
        while time.time() < deadline:
            state = driver.execute_script(script_prefix + " if (!v) return null; return {ready: v.readyState, width: v.videoWidth, height: v.videoHeight, duration: v.duration, error: v.error ? v.error.code : null};")
            if state and (state["ready"] >= 2 or state["error"]):
                break
            time.sleep(0.1)
        seeked = False
        if state and state["ready"] >= 2 and state["duration"] and state["duration"] > 0:
            middle = state["duration"] / 2
            driver.execute_script(script_prefix + " v.muted = true; v.currentTime = arguments[0]; v.play();", middle)
            deadline = time.time() + 10
            while time.time() < deadline:
                now = driver.execute_script(script_prefix + " return v.currentTime;")
                if now > middle + 0.05:
                    seeked = True
                    break
                time.sleep(0.1)
        if args.screenshot:
            driver.save_screenshot(args.screenshot)
        print(json.dumps({"path": path, "state": state, "played_from_middle": seeked}), flush=True)
finally:
    driver.quit()
