"""The officers' Streamlit app: thin pages over the library (``streamlit run app.py``)."""
