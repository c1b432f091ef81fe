"""The qna service: answers from a knowledge-base file, generateAnswer-shaped."""

from .knowledge_base import Answer, KnowledgeBase, load_knowledge_base

__all__ = ["Answer", "KnowledgeBase", "load_knowledge_base"]
