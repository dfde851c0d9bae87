"""In-process reply generation: model backends behind a micro-batching asyncio ``Generator``."""

from bot.generation.backends import Backend, TransformersBackend
from bot.generation.errors import EmptyReply, GenerationError, GenerationTimeout, GeneratorClosed, ModelLoadError
from bot.generation.factory import BACKEND_LOADERS, build_generator, load_backend
from bot.generation.service import GenerationResult, Generator

__all__ = [
    "BACKEND_LOADERS",
    "Backend",
    "EmptyReply",
    "GenerationError",
    "GenerationResult",
    "GenerationTimeout",
    "Generator",
    "GeneratorClosed",
    "ModelLoadError",
    "TransformersBackend",
    "build_generator",
    "load_backend",
]
