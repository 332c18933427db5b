"""The officers' app: only a router. Run it with ``make run`` (``streamlit run app.py``).

Every page is a module in ``ui/pages/``; which pages a user sees, and the
checks every page makes on every run, live in ``ui/common.py``.
"""

import streamlit as st

from ui import common

st.set_page_config(page_title="supply-allocator", layout="wide")
common.sidebar()
st.navigation(common.pages()).run()
