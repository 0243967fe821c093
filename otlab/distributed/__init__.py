r"""otlab on several processes, machines or GPUs, with ``torch.distributed``.

Launch with ``torchrun`` (NCCL on GPUs, Gloo on CPUs); see the guide page
"Scaling out".

* :class:`Replica` — the interface of this process's part in a training run
  (alone by default; also ``otlab.gan.Replica``);
* :class:`DistributedReplica` — the WGAN trainer's data-parallel replica:
  one gradient all-reduce per optimiser step, rank 0 writes the files
  (:func:`otlab.gan.train` uses it by itself inside an initialised group);
* :func:`process_group` — join ``torchrun``'s group (what
  ``torchrun -m otlab.demo wgan`` does);
* :func:`sharded_sinkhorn`, :func:`sharded_sinkhorn_divergence` — entropic
  OT over the global sample when every rank holds some of the points (no
  rank holds the global cost matrix).
"""

from .launch import launched_by_torchrun, process_group
from .replica import DistributedReplica, Replica, current_replica
from .sinkhorn import ShardedSinkhornResult, sharded_sinkhorn, sharded_sinkhorn_divergence

__all__ = [
    "Replica",
    "DistributedReplica",
    "current_replica",
    "launched_by_torchrun",
    "process_group",
    "ShardedSinkhornResult",
    "sharded_sinkhorn",
    "sharded_sinkhorn_divergence",
]
