"""Training stage: targets, rolling-origin backtest, baselines, XGBoost, MLflow registration."""
