"""Developer commands that are neither the server nor tests: screenshots, static serving."""
