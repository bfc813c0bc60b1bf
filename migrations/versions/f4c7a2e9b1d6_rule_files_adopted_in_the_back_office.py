"""rule files uploaded and adopted in the back office (issue 13, SPEC 10)

Revision ID: f4c7a2e9b1d6
Revises: f2c7a9d4b1e6
Create Date: 2026-12-01 11:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f4c7a2e9b1d6'
down_revision = "f2c7a9d4b1e6"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('rule_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(), nullable=False),
    sa.Column('uploaded_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['uploaded_by'], ['users.id'], name=op.f('fk_rule_files_uploaded_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_files')),
    sa.UniqueConstraint('sha256', name=op.f('uq_rule_files_sha256'))
    )
    op.create_table('rule_adoptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule_file_id', sa.Integer(), nullable=False),
    sa.Column('adopted_at', sa.DateTime(), nullable=False),
    sa.Column('adopted_by', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['adopted_by'], ['users.id'], name=op.f('fk_rule_adoptions_adopted_by_users')),
    sa.ForeignKeyConstraint(['rule_file_id'], ['rule_files.id'], name=op.f('fk_rule_adoptions_rule_file_id_rule_files')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_adoptions'))
    )
    with op.batch_alter_table('rule_adoptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rule_adoptions_rule_file_id'), ['rule_file_id'], unique=False)


def downgrade():
    with op.batch_alter_table('rule_adoptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rule_adoptions_rule_file_id'))
    op.drop_table('rule_adoptions')
    op.drop_table('rule_files')
