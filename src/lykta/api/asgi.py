"""Entry point for server workers: each builds its own core from the environment."""

from fastapi import FastAPI

from lykta.api.main import create_app
from lykta.app import Lykta
from lykta.settings import load_settings


def create_app_from_env() -> FastAPI:
    return create_app(Lykta.open(load_settings()))
