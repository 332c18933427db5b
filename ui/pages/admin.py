"""Users: add users, reset passwords, assign roles (administrators only)."""

import pandas as pd
import streamlit as st

from allocator.errors import StoreError
from allocator.store import auth, users
from allocator.store import models as m
from ui.common import PAGE_ROLES, client_id, display_names, frame_labels, require_role, session, tr

me = require_role(*PAGE_ROLES["admin"])
st.title(tr("app.page.admin"))
if "_admin_flash" in st.session_state:
    st.success(st.session_state.pop("_admin_flash"))


def _roles(rs: list[str]) -> str:
    return ", ".join(tr(f"app.role.{r}") for r in rs)


with session() as s:
    everyone = users.users_frame(s)
names = [u["name"] for u in everyone]
sites = display_names("sites")
table = pd.DataFrame(everyone, columns=["name", "roles", "site_id", "active", "created_at"])
table["roles"] = table["roles"].map(_roles)
table["site_id"] = table["site_id"].map(lambda x: sites.get(x, x))
st.dataframe(frame_labels(table), hide_index=True, width="stretch", key="users_table")


def _apply(action: str, target: str, fn, detail: str = "") -> None:
    try:
        with session() as s:
            fn(s)
            auth.record_event(s, me.name, action, client=client_id(), detail=f"{target} {detail}".strip())
    except StoreError as exc:
        st.error(tr("app.admin.failed", error=str(exc)))
    else:
        st.session_state["_admin_flash"] = tr(f"app.admin.done_{action}", user=target)
        st.rerun()


site_ids = [""] + list(sites)
# labels computed now, in the session's language (format functions may be called outside the run)
site_labels = {"": tr("app.admin.no_site"), **{k: f"{v} ({k})" for k, v in sites.items()}}
site_fmt = site_labels.__getitem__
role_labels = {r: tr(f"app.role.{r}") for r in m.ROLES}

st.subheader(tr("app.admin.add"))
with st.form("add_user", clear_on_submit=True):
    new_name = st.text_input(tr("app.admin.name"), key="add_name")
    new_pw = st.text_input(tr("app.login.password"), type="password", key="add_password")
    new_roles = st.multiselect(tr("app.admin.roles"), list(m.ROLES), default=["officer"], key="add_roles",
                               format_func=role_labels.__getitem__)
    new_site = st.selectbox(tr("app.admin.site"), site_ids, format_func=site_fmt, key="add_site")
    if st.form_submit_button(tr("app.admin.add_submit")):
        _apply("user_added", new_name.strip(),
               lambda s: users.add_user(s, new_name, new_pw, new_roles, site_id=new_site or None),
               " ".join(new_roles))

if names:
    st.subheader(tr("app.admin.change"))
    who = st.selectbox(tr("app.admin.user"), names, key="edit_user")
    current = next(u for u in everyone if u["name"] == who)
    with st.form("set_roles"):
        roles = st.multiselect(tr("app.admin.roles"), list(m.ROLES), default=current["roles"], key="edit_roles",
                               format_func=role_labels.__getitem__)
        site = st.selectbox(tr("app.admin.site"), site_ids, key="edit_site", format_func=site_fmt,
                            index=site_ids.index(current["site_id"]) if current["site_id"] in site_ids else 0)
        if st.form_submit_button(tr("app.admin.roles_submit")):
            _apply("roles_set", who, lambda s: users.set_roles(s, who, roles, site_id=site or None), " ".join(roles))
    with st.form("reset_password", clear_on_submit=True):
        pw = st.text_input(tr("app.admin.new_password"), type="password", key="reset_password_value")
        if st.form_submit_button(tr("app.admin.reset_submit")):
            _apply("password_reset", who, lambda s: users.set_password(s, who, pw))
    if current["active"]:
        if who != me.name and st.button(tr("app.admin.disable"), key="disable_user"):
            _apply("user_disabled", who, lambda s: users.set_active(s, who, False))
    elif st.button(tr("app.admin.enable"), key="enable_user"):
        _apply("user_enabled", who, lambda s: users.set_active(s, who, True))
