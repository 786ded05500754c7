-- The example's table: orders, changed in place (updated_at moves on every change).
CREATE TABLE IF NOT EXISTS orders (
  id          bigserial PRIMARY KEY,
  customer    text NOT NULL,
  amount      numeric(10, 2) NOT NULL,
  card_number text,
  updated_at  timestamp(6) NOT NULL DEFAULT clock_timestamp()
);
-- Every UPDATE moves updated_at, so timestamp+incrementing mode sees changes.
CREATE OR REPLACE FUNCTION orders_touch() RETURNS trigger AS $$
BEGIN
  NEW.updated_at := clock_timestamp();
  RETURN NEW;
END
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS orders_touch ON orders;
CREATE TRIGGER orders_touch BEFORE UPDATE ON orders
  FOR EACH ROW EXECUTE FUNCTION orders_touch();
INSERT INTO orders (customer, amount, card_number) VALUES
  ('acme', 19.99, '4111111111111111'),
  ('globex', 5.00, '5500000000000004'),
  ('acme', 120.50, NULL);
