-- Row-level security: signed-in business users read their own tenants' rows; nobody but
-- the service role (the pipeline, which bypasses RLS) writes our tables.
--
-- * RLS is enabled on every table, always (a table without RLS in `public` is readable
--   by anyone holding the project's anon key).
-- * On Supabase (roles anon/authenticated/service_role and auth.uid() exist) the grants
--   and read policies below are created; on a plain PostgreSQL server they are skipped
--   and only the tables' owner (and roles with BYPASSRLS) can read or write.
-- * Membership: public.tenant_members(user_id = auth.uid(), tenant_id).
-- Idempotent: policies are dropped and created again; grants are repeated.

alter table public.negocios enable row level security;
alter table public.ventas enable row level security;
alter table public.productos enable row level security;
alter table public.ml_predictions enable row level security;
alter table public.ml_models enable row level security;
alter table public.ml_features enable row level security;
alter table public.tenant_ml_settings enable row level security;
alter table public.notifications enable row level security;
alter table public.business_notification_config enable row level security;
alter table public.forecast_history enable row level security;
alter table public.job_runs enable row level security;
alter table public.leases enable row level security;
alter table public.tenant_members enable row level security;
alter table public.apscheduler_jobs enable row level security;

do $rls$
declare
    -- table -> column naming its tenant
    scoped constant text[][] := array[
        ['negocios', 'id'], ['ventas', 'negocio_id'], ['productos', 'negocio_id'],
        ['ml_predictions', 'tenant_id'], ['ml_models', 'tenant_id'], ['ml_features', 'tenant_id'],
        ['tenant_ml_settings', 'tenant_id'], ['notifications', 'tenant_id'],
        ['business_notification_config', 'tenant_id'], ['forecast_history', 'tenant_id']];
    -- tables we own (the source tables' grants belong to the business application)
    ours constant text[] := array[
        'ml_predictions', 'ml_models', 'ml_features', 'tenant_ml_settings', 'notifications',
        'business_notification_config', 'forecast_history', 'job_runs', 'leases', 'tenant_members',
        'apscheduler_jobs'];
    t text;
    i int;
begin
    if (select count(*) from pg_roles where rolname in ('anon', 'authenticated', 'service_role')) < 3
       or to_regprocedure('auth.uid()') is null then
        raise notice 'forecasting: no Supabase roles or auth.uid(); RLS enabled without policies';
        return;
    end if;

    -- The tenants the signed-in user belongs to. SECURITY DEFINER so that policies can
    -- read tenant_members without recursing into its own policy; search_path pinned.
    execute $f$
        create or replace function public.forecasting_member_tenants()
        returns setof text
        language sql
        stable
        security definer
        set search_path = ''
        as $body$
            select m.tenant_id from public.tenant_members m where m.user_id = auth.uid()
        $body$
    $f$;
    revoke execute on function public.forecasting_member_tenants() from public, anon;
    grant execute on function public.forecasting_member_tenants() to authenticated, service_role;

    -- Our tables: the pipeline (service role) does everything, signed-in users only read,
    -- anonymous callers nothing. Supabase's default privileges grant all to every API
    -- role; these take the excess back.
    foreach t in array ours loop
        execute format('revoke all on table public.%I from anon, authenticated', t);
        execute format('grant all on table public.%I to service_role', t);
    end loop;
    foreach t in array ours loop
        if t not in ('job_runs', 'leases', 'apscheduler_jobs') then
            execute format('grant select on table public.%I to authenticated', t);
        end if;
    end loop;
    grant usage, select on all sequences in schema public to service_role;
    grant select on table public.negocios, public.ventas, public.productos to authenticated;
    grant all on table public.negocios, public.ventas, public.productos to service_role;

    for i in 1 .. array_length(scoped, 1) loop
        execute format('drop policy if exists forecasting_member_read on public.%I', scoped[i][1]);
        execute format(
            'create policy forecasting_member_read on public.%I for select to authenticated '
            'using (%I in (select public.forecasting_member_tenants()))',
            scoped[i][1], scoped[i][2]);
    end loop;

    drop policy if exists forecasting_own_membership on public.tenant_members;
    create policy forecasting_own_membership on public.tenant_members for select to authenticated
        using (user_id = (select auth.uid()));

    revoke execute on function public.forecasting_acquire_lease(text, text, double precision) from anon, authenticated;
    grant execute on function public.forecasting_acquire_lease(text, text, double precision) to service_role;
end
$rls$;

-- The version of the newest migration: SQLStorage applies the files again when the
-- database reports an older one. Keep it equal to the newest file's timestamp.
create or replace function public.forecasting_schema_version()
returns text
language sql
immutable
as $$ select '20261126000100'::text $$;

-- Let PostgREST see the new tables and functions now (a no-op where nothing listens).
notify pgrst, 'reload schema';
