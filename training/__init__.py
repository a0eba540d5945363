"""Claims history in, an evaluated and registered model out.

Rooms, lower first (a room imports only from rooms below it, and from features):
- training.model: the served model and nothing that trains (loaded by the service);
- training.data: claims files in, clean frames and the quarantine out;
- training.demo: the synthetic demo history;
- this package's modules: the stages (fit, evaluate, plots, register, export, batch, train) and
  training's commands;
- training.review: what each review notebook calls.
"""
