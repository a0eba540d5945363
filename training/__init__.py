"""Claims history in, an evaluated and registered model out.

Rooms, lower first (a room imports only from rooms below it, and from common, features,
claims_io and scoring):
- training.data: what training alone does with claims (several histories, fitness, the split);
- training.demo: the synthetic demo history;
- this package's modules: the stages (fit, evaluate, plots, register, gate, export, train) and
  training's commands;
- training.review: what each review notebook calls.
"""
