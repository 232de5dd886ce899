"""Placeholder: filled in by its owner."""

from fastapi import APIRouter

router = APIRouter(prefix="/detection", tags=["detection"])  # mounted under /api/v1
