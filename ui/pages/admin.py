"""The admin page."""

import streamlit as st

from ui.common import PAGE_ROLES, require_role, tr

require_role(*PAGE_ROLES["admin"])
st.title(tr("app.page.admin"))
st.info(tr("app.placeholder"))
