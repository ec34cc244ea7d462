"""The camera import page in real headless Chromium: check a file, import it, read the
row-by-row report table (Thai by default); a partner sees only their own organisation."""

from __future__ import annotations

from pathlib import Path

import pytest

from safezone.auth.roles import Role
from safezone.db.engine import Database
from tests.cameras.registry_support import SECRET, THAI, count, csv_bytes, row
from tests.conftest import PASSWORD, LiveServer, UserFactory

pytest.importorskip("playwright.async_api")
from playwright.async_api import Browser, Page, expect  # noqa: E402

from tests.fixtures.browser import BROWSER_MARKS  # noqa: E402

pytestmark = BROWSER_MARKS


async def _signed_in(browser: Browser, server: LiveServer, username: str
                     ) -> tuple[Page, list[str]]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await page.goto(f"{server.url}/login?next=/cameras/import")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("form.login-form button[type=submit]")
    await page.wait_for_url("**/cameras/import")
    return page, errors


async def test_upload_check_then_import_shows_the_report(
    browser: Browser, live_server: LiveServer, make_user: UserFactory, db: Database,
    artifacts: Path, tmp_path: Path, partner_org: int,
) -> None:
    shots = artifacts / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    user = await make_user(Role.supervisor)
    page, errors = await _signed_in(browser, live_server, user["username"])
    await expect(page.locator("h1")).to_have_text("นำเข้ารายการกล้อง")
    await expect(page.get_by_test_id("import-columns")).to_contain_text("ลิงก์สตรีม")
    nav = page.locator(".topnav a[aria-current=page]")
    await expect(nav).to_have_text("นำเข้ากล้อง")

    upload = tmp_path / "กล้องเทศบาล.csv"
    upload.write_bytes(csv_bytes(THAI, [
        row("NWT-001", "กล้องแยกเสด็จ", url="rtsp://192.0.2.1/1", user="op", password=SECRET),
        row("NWT-002", "กล้องตลาด", lat=99),
        row("NWT-003", "กล้องท่าน้ำ", owner="ร้านทดสอบ"),
    ], encoding="cp874"))
    await page.set_input_files("[data-testid=import-file]", str(upload))
    await page.get_by_test_id("import-check").click()
    report = page.get_by_test_id("import-report")
    await expect(report).to_contain_text("ยังไม่ได้บันทึก")
    assert await count(db) == 0

    await page.set_input_files("[data-testid=import-file]", str(upload))
    await page.get_by_test_id("import-submit").click()
    await expect(report.locator("h2")).to_have_text("รายงานการนำเข้า")
    counts = page.get_by_test_id("import-counts")
    await expect(counts.locator("[data-outcome=created] strong")).to_have_text("2")
    await expect(counts.locator("[data-outcome=failed] strong")).to_have_text("1")
    failed = page.get_by_test_id("import-failed").locator("tbody tr")
    await expect(failed).to_have_count(1)
    await expect(failed.first).to_contain_text("NWT-002")
    await expect(failed.first).to_contain_text("ละติจูด")
    rows = page.get_by_test_id("import-rows").locator("tbody tr")
    await expect(rows).to_have_count(3)
    await expect(rows.nth(0)).to_have_attribute("data-outcome", "created")
    await expect(rows.nth(0).locator("a")).to_have_text("NWT-001")
    assert SECRET not in await page.content()
    await page.screenshot(path=str(shots / "camera-import-report.png"), full_page=True)
    assert await count(db) == 2
    assert not errors, errors


async def test_partner_sees_only_their_organisation(
    browser: Browser, live_server: LiveServer, make_user: UserFactory, artifacts: Path,
) -> None:
    partner = await make_user(Role.partner)
    page, errors = await _signed_in(browser, live_server, partner["username"])
    owner = page.get_by_test_id("import-owner").locator("option")
    await expect(owner).to_have_count(1)
    await expect(owner).to_have_text("ร้านทดสอบ")
    # Submitting without a file keeps the person on the page with a message.
    await page.evaluate("document.querySelector('[data-testid=import-file]').required = false")
    await page.get_by_test_id("import-check").click()
    await expect(page.get_by_test_id("import-error")).to_have_text("กรุณาเลือกไฟล์ CSV หรือ XLSX ก่อน")
    template = await page.request.get(f"{live_server.url}/cameras/import/template.csv")
    text = (await template.body()).decode("utf-8-sig")
    assert text.splitlines()[0].startswith("รหัส,ชื่อ,ชื่อภาษาอังกฤษ,ละติจูด,ลองจิจูด")
    await page.screenshot(path=str(artifacts / "screenshots" / "camera-import-partner.png"))
    # The form answered 422 on purpose (Chromium logs any 4xx document as a console error).
    assert [e for e in errors if "status of 422" not in e] == []
