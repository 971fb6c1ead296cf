"""Service floor: the FastAPI app serving stored scores, explanations, reviews and API tokens."""
