"""Data: upload a scenario (zip of CSV files or one .xlsx), edit needs, stock and sites, download as .xlsx.

Nothing is stored until the data passes validation; every problem is shown at once, beside its row.
"""

import hashlib

import streamlit as st

from allocator.store import auth, import_scenario
from allocator.upload import (
    Checked,
    apply_delta,
    check_edits,
    check_upload,
    text_tables,
    xlsx_bytes,
)
from ui.common import (
    PAGE_ROLES,
    client_id,
    render_problem_rows,
    render_problems,
    require_role,
    session,
    stored_scenario,
    tr,
)

me = require_role(*PAGE_ROLES["data"])
st.title(tr("app.page.data"))
if "_data_flash" in st.session_state:
    st.success(st.session_state.pop("_data_flash"))

EDITABLE = ("needs", "stock", "sites")


@st.cache_resource(show_spinner=False, max_entries=4)
def _check(name: str, digest: str, _data: bytes) -> Checked:
    return check_upload(name, _data)


def _store(checked: Checked, action: str, detail: str) -> None:
    assert checked.scenario is not None
    with session() as s:
        import_scenario(s, checked.scenario, user=me.name)
        auth.record_event(s, me.name, action, client=client_id(), detail=detail)
    st.session_state["_data_flash"] = tr("app.data.stored", detail=detail)
    st.session_state["_editor_version"] = st.session_state.get("_editor_version", 0) + 1
    st.session_state.pop("pending_edits", None)
    st.rerun()


upload_tab, edit_tab, download_tab = st.tabs([tr("app.data.tab_upload"), tr("app.data.tab_edit"),
                                              tr("app.data.tab_download")])

with upload_tab:
    st.caption(tr("app.data.upload_help"))
    up = st.file_uploader(tr("app.data.upload"), type=["zip", "xlsx"], key="upload")
    if up is not None:
        data = up.getvalue()
        checked = _check(up.name, hashlib.sha256(data).hexdigest(), data)
        render_problems(checked.report, key="upload_problems")
        render_problem_rows(checked, key="upload_rows")
        if checked.ok:
            assert checked.scenario is not None
            counts = checked.scenario.summary()
            st.write(tr("app.data.valid", name=checked.scenario.name,
                        tables=", ".join(f"{k} {v}" for k, v in counts.items())))
            if st.button(tr("app.data.store"), key="store_upload", type="primary"):
                _store(checked, "data_imported", up.name)

with edit_tab:
    st.caption(tr("app.data.edit_help"))
    base = stored_scenario()
    text = text_tables(base)
    version = st.session_state.get("_editor_version", 0)
    pending = st.session_state.setdefault("pending_edits", {})

    def _keep(table: str, key: str) -> None:
        st.session_state["pending_edits"][table] = dict(st.session_state[key])

    for table in EDITABLE:
        if table not in text.tables:
            continue
        key = f"edit_{table}_{version}"
        st.markdown(f"**{tr(f'app.data.table_{table}')}**")
        st.data_editor(text.tables[table], key=key, num_rows="dynamic", hide_index=True, width="stretch",
                       on_change=_keep, args=(table, key))
    edited = {t: apply_delta(text.tables[t], d) for t, d in pending.items() if t in text.tables}
    changed = [t for t, d in pending.items() if any(d.get(k) for k in ("edited_rows", "added_rows", "deleted_rows"))]
    if changed:
        checked = check_edits(base, **edited)
        render_problems(checked.report, key="edit_problems")
        render_problem_rows(checked, key="edit_rows")
        c1, c2 = st.columns(2)
        if checked.ok and c1.button(tr("app.data.save"), key="save_edits", type="primary"):
            _store(checked, "data_edited", ", ".join(changed))
        if c2.button(tr("app.data.discard"), key="discard_edits"):
            st.session_state["_editor_version"] = version + 1
            st.session_state.pop("pending_edits", None)
            st.rerun()

with download_tab:
    sc = stored_scenario()
    # the workbook is written only when the button is clicked (a deferred download)
    st.download_button(tr("app.data.download"), data=lambda sc=sc: xlsx_bytes(sc),
                       file_name=f"{sc.name or 'scenario'}.xlsx", key="download_xlsx",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
