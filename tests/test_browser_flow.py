"""The whole officer flow in Chromium on the demo data, once in Chinese and once in English.

Log in, upload the demo workbook with a changed need, run, lock, re-run,
approve as the approver, dispatch, confirm a delivery with a shortfall; the
database is checked after each step that stores something, and screenshots
of the Round, Transport, Deliveries and Donations pages go to
``docs/screenshots/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.slow
pytest.importorskip("playwright.sync_api")

from tests import ops_browser as ob  # noqa: E402

SHOTS = ob.ROOT / "docs" / "screenshots"


@pytest.fixture(scope="module")
def chromium():
    if not Path(ob.CHROMIUM).exists() or shutil.which(ob.CHROMIUM) is None:
        pytest.skip(f"no Chromium at {ob.CHROMIUM}")
    with ob.browser() as b:
        yield b


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_officer_flow(chromium, tmp_path, lang):
    from allocator.store import make_engine, transaction
    from allocator.store import models as m

    book, new_need = ob.changed_workbook(tmp_path)
    with ob.serve(tmp_path) as base:
        eng = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
        ctx = chromium.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN" if lang == "zh" else "en-US")
        page = ctx.new_page()
        f = ob.Flow(page, base, lang)
        f.start()
        f.login("li")
        f.upload(book)
        with transaction(eng) as s:
            need = s.scalar(sa.select(m.Need.quantity).where(m.Need.site_id == "H01", m.Need.item_id == "surgical_mask",
                                                 m.Need.retired.is_(False)))
        assert need == new_need
        f.open("round")
        f.run_round(1)
        f.lock(100)  # D01 -> H01, surgical masks (the first of each list)
        f.run_round(2)
        f.see(f.t("app.round.superseded", round_id=1))
        f.shot("round", SHOTS)
        with transaction(eng) as s:
            r2 = s.get(m.Round, 2)
            assert r2.state == "draft" and s.get(m.Round, 1).state == "cancelled"
            locked = s.scalar(sa.select(sa.func.sum(m.Allocation.quantity)).where(
                m.Allocation.round_id == 2, m.Allocation.depot_id == "D01", m.Allocation.site_id == "H01",
                m.Allocation.item_id == "surgical_mask"))
            assert locked == 100
        f.logout()
        f.login("wang")
        f.approve()
        with transaction(eng) as s:
            assert (s.get(m.Round, 2).state, s.get(m.Round, 2).approved_by) == ("approved", "wang")
        f.logout()
        f.login("li")
        f.dispatch()
        f.shot("transport", SHOTS)
        with transaction(eng) as s:
            assert s.get(m.Round, 2).state == "dispatched"
            n_trips = s.scalar(sa.select(sa.func.count()).select_from(m.Trip).where(m.Trip.round_id == 2))
        f.confirm_with_shortfall(5)
        f.shot("deliveries", SHOTS)
        with transaction(eng) as s:
            d = list(s.scalars(sa.select(m.Delivery)))
            assert len(d) >= 1 and sum(x.shipped - x.received for x in d) == 5
            assert {x.discrepancy for x in d} == {"", "short"}
            assert s.scalar(sa.select(sa.func.count()).select_from(m.Trip).where(
                m.Trip.round_id == 2, m.Trip.state == "delivered")) == 1 < n_trips + 1
        f.open("donations")
        f.shot("donations", SHOTS)
        ctx.close()
        eng.dispose()
