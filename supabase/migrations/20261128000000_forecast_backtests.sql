-- Forecast history rows back-filled from cross-validation on a first training carry source = 'backtest'
-- (forecasting.services.scoring.record_backtest), so the scorecard has figures from day one and says
-- which of them are replayed. NULL = a forecast as issued. Idempotent.

alter table public.forecast_history add column if not exists source text;

-- The version of the newest migration (see 20261126000100): keep it equal to this file's timestamp.
create or replace function public.forecasting_schema_version()
returns text
language sql
immutable
as $$ select '20261128000000'::text $$;

notify pgrst, 'reload schema';
