"""passbook print runs: the counter offers "It printed right" only for lines a run produced

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 20:22:45.228041
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import coop.db  # noqa: F401 - types such as coop.db.UTCDateTime

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('passbook_print_run',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=40), nullable=False),
    sa.Column('through', sa.BigInteger(), nullable=False),
    sa.Column('produced_at', coop.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('produced_by', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_passbook_print_run_member_id_member')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_passbook_print_run'))
    )
    with op.batch_alter_table('passbook_print_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_passbook_print_run_member_id'), ['member_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('passbook_print_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_passbook_print_run_member_id'))

    op.drop_table('passbook_print_run')
