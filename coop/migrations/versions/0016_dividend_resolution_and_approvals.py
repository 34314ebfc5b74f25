"""dividend declarations: the general body's resolution as a number and a date, and pending
declarations that wait for the board's votes

`dividend_declaration.resolution` (free text) becomes `resolution_number` and
`resolution_on`: an old declaration keeps its text as the number, with no date, so it reads
as it did. `appropriation_entry_id` may be empty: a declaration `pending` board approvals
(the society setting `dividend_approvals_required`) has posted nothing yet.

Downgrade writes the number and date back as one text ("GB-7/2026, 2026-05-30") and drops
the declarations that never posted (pending or rejected), which the old schema cannot hold.

Revision ID: 0016_dividend_resolution
Revises: 0015
Create Date: 2026-12-06 20:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016_dividend_resolution'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENTRY_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('dividend_declaration', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resolution_number', sa.String(length=200),
                                      nullable=True))
        batch_op.add_column(sa.Column('resolution_on', sa.Date(), nullable=True))
    op.execute("UPDATE dividend_declaration SET resolution_number = resolution")
    with op.batch_alter_table('dividend_declaration', schema=None) as batch_op:
        batch_op.drop_column('resolution')
        batch_op.alter_column('appropriation_entry_id', existing_type=ENTRY_ID, nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM dividend_declaration WHERE appropriation_entry_id IS NULL")
    with op.batch_alter_table('dividend_declaration', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resolution', sa.String(length=200), nullable=True))
    op.execute(
        "UPDATE dividend_declaration SET resolution = CASE WHEN resolution_on IS NULL "
        "THEN resolution_number ELSE SUBSTR(resolution_number || ', ' || "
        "CAST(resolution_on AS VARCHAR(10)), 1, 200) END")
    with op.batch_alter_table('dividend_declaration', schema=None) as batch_op:
        batch_op.alter_column('appropriation_entry_id', existing_type=ENTRY_ID,
                              nullable=False)
        batch_op.drop_column('resolution_on')
        batch_op.drop_column('resolution_number')
