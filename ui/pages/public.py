"""Reserved for the public donation page of a later issue (not in the navigation yet)."""

import streamlit as st

from ui.common import tr

st.title(tr("app.page.public"))
st.info(tr("app.placeholder"))
