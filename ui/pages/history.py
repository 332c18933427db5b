"""The history page."""

import streamlit as st

from ui.common import PAGE_ROLES, require_role, tr

require_role(*PAGE_ROLES["history"])
st.title(tr("app.page.history"))
st.info(tr("app.placeholder"))
