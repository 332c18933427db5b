"""The data page."""

import streamlit as st

from ui.common import PAGE_ROLES, require_role, tr

require_role(*PAGE_ROLES["data"])
st.title(tr("app.page.data"))
st.info(tr("app.placeholder"))
