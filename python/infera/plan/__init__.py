"""AST → Plan: the compiler and the plan's Arrow tables."""

from infera.plan.compiler import compile_program
from infera.plan.tables import PLAN_VERSION, SCHEMAS, Plan

__all__ = ["Plan", "PLAN_VERSION", "SCHEMAS", "compile_program"]
