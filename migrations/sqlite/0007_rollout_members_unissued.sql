-- rebound schema, version 7: a rollout's next members to issue are read through a partial
-- index that holds only the members without a command, in the order they are issued.
--
-- Before, the read went through `rollout_members_wave`, which holds every member: each step
-- walked the members already issued and sorted all those still waiting, so a rollout paced
-- over many steps cost O(N²) in its size (5,000 devices: 295 reads of ~1 ms each;
-- 100,000 devices: ~4.5 ms per read). With this index a read costs what it returns.
-- Portable SQL as in 0001 (PostgreSQL has partial indexes too).
CREATE INDEX rollout_members_unissued ON rollout_members (rollout_id, wave, client_uuid)
    WHERE command_id IS NULL;
