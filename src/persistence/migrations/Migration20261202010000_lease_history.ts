import { Migration } from '@mikro-orm/migrations';

/**
 * `omoi_lease_history`: every holding of every partition lease (node, epoch, from, to), written
 * in the transaction that changes the holder. Leases held at upgrade time start their history
 * now.
 * `omoi_cluster`: the cluster's partition count, so that a node configured with another
 * count refuses to start. An existing cluster's count is its number of lease rows.
 */
export class Migration20261202010000_lease_history extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "omoi_lease_history" ("id" bigserial primary key, "partition" int not null, "epoch" int not null, "node_id" varchar(255) not null, "held_from" timestamptz not null, "held_to" timestamptz null);`);
    this.addSql(`alter table "omoi_lease_history" add constraint "omoi_lease_history_partition_epoch_unique" unique ("partition", "epoch");`);
    this.addSql(`insert into "omoi_lease_history" ("partition", "epoch", "node_id", "held_from")
      select "partition", "epoch", "node_id", now() from "omoi_partition_lease" where "node_id" is not null and "expires_at" > now();`);
    this.addSql(`create table "omoi_cluster" ("id" int not null, "partitions" int not null, "created_at" timestamptz not null, constraint "omoi_cluster_pkey" primary key ("id"));`);
    this.addSql(`insert into "omoi_cluster" ("id", "partitions", "created_at")
      select 1, count(*), now() from "omoi_partition_lease" having count(*) > 0;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "omoi_cluster";`);
    this.addSql(`drop table if exists "omoi_lease_history";`);
  }
}
