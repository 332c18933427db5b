"""The donations page (placeholder until branch app-ops replaces it)."""

import streamlit as st

from ui.common import PAGE_ROLES, require_role, tr

require_role(*PAGE_ROLES["donations"])
st.title(tr("app.page.donations"))
st.info(tr("app.placeholder"))
