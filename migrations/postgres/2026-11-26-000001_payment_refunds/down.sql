ALTER TABLE payments DROP COLUMN refunded_amount_fen;
