"""Deployment: the infra/ template, the merge with Chalice's functions, and packaging."""
