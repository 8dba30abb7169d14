"""What the dashboard draws: UI strings (`i18n`), locale formatting (`formatting`), Plotly figures
(`figures`) and display tables (`tables`). Pure Python over `forecasting.views` results; no Streamlit.
"""
