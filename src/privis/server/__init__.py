"""HTTP services over the library: thin FastAPI apps served by uvicorn."""
