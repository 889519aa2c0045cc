"""Flask: the application factory and its blueprints (simulator, health, exports; channels and API later)."""
