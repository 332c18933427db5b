"""Log in (the only page a visitor without a session sees)."""

import math

import streamlit as st

from allocator.store import auth
from ui.common import client_id, current_user, session, sign_in, tr

st.title(tr("app.login.title"))
if st.session_state.pop("_expired", False):
    st.info(tr("app.login.expired"))
if current_user() is not None:
    st.success(tr("app.login.already"))
    st.stop()

with st.form("login_form"):
    name = st.text_input(tr("app.login.user"), key="login_user")
    password = st.text_input(tr("app.login.password"), type="password", key="login_password")
    submitted = st.form_submit_button(tr("app.login.submit"))

if submitted:
    with session() as s:
        result = auth.login(s, name, password, client=client_id())
    if result.ok:
        assert result.user is not None
        sign_in(result.user)
        st.rerun()
    elif result.code == "throttled":
        st.error(tr("app.login.throttled", seconds=math.ceil(result.retry_after)))
    else:
        st.error(tr("app.login.bad_credentials"))
