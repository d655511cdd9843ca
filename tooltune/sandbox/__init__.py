"""The sandbox world: 9 apps of typed tools over per-user SQLite state, users, cases, checks, gold policy.

Entry points: `suite.builtin_suite()`, `world.World`, `checks.check_keypoints`, `reference.gold_trajectory`,
`prompts.episode_messages`, `export.export_sft`, `tasks.load_cases()`. Where each app's tools, tables,
generated data and tasks live: `apps.APPS`. No language model and no training code lives here.
"""
