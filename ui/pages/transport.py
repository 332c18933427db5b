"""The transport page (placeholder until branch app-ops replaces it)."""

import streamlit as st

from ui.common import PAGE_ROLES, require_role, tr

require_role(*PAGE_ROLES["transport"])
st.title(tr("app.page.transport"))
st.info(tr("app.placeholder"))
