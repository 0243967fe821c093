"""The checks each spawned group runs: ``module:function`` names (see _group.py)."""

TRAINER = "tests.distributed._trainer_checks"
SOLVER = "tests.distributed._sinkhorn_checks"

TRAINER_CHECKS = [
    "hooks_average_gradients_and_or_flags",
    "averaged_gradient_is_the_gradient_on_the_global_batch",
    "rank0_writes_and_replicas_stay_identical",
    "resume_with_the_same_world_size_ends_where_the_uninterrupted_run_ends",
    "resume_with_another_world_size_warns_and_continues",
    "a_refused_checkpoint_raises_on_every_rank",
]
SOLVER_CHECKS = [
    "sinkhorn_equals_one_process_w1_uniform",
    "sinkhorn_equals_one_process_w2_weighted",
    "divergence_equals_one_process_with_gradients",
    "sinkhorn_gradients_are_the_local_rows_of_the_global_gradient",
    "float32_and_tiled_blocks_agree_with_one_process",
    "every_rank_raises_when_one_rank_gets_bad_input",
    "every_rank_warns_when_the_budget_runs_out",
    "ranks_out_of_step_raise_instead_of_mixing_data",
    "same_sample_gives_exactly_zero_and_offsets_change_nothing",
    "large_eps_expansion_agrees_with_one_process",
    "points_of_weight_0_change_no_sharded_divergence_however_far",
    "far_offsets_and_float32_agree_with_one_process",
]
