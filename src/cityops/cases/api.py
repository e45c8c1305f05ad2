"""HTTP routes (filled in by the domain)."""

from fastapi import APIRouter

router = APIRouter(tags=["cases"])
