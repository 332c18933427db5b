"""The overview page."""

import streamlit as st

from ui.common import PAGE_ROLES, require_role, tr

require_role(*PAGE_ROLES["overview"])
st.title(tr("app.page.overview"))
st.info(tr("app.placeholder"))
