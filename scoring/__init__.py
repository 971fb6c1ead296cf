"""Scoring stage: registered models score country-years with SHAP explanations."""
