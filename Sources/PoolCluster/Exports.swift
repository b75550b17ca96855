// What PoolCluster users name comes partly from ClusterJobs (kinds, handlers, the simulated kind), which
// needs no database; importing PoolCluster brings it too.
@_exported public import ClusterJobs
